import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configurationReference } from "../../src/config/reference.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { SCALAR_SETTINGS } from "../../src/config/settings.js";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

describe("docs/configuration.md", () => {
  const page = configurationReference();

  it("is the reference generated from the schema as it is now (run `npm run docs:config` after changing a setting)", () => {
    expect(readFileSync(join(PROJECT_ROOT, "docs", "configuration.md"), "utf8")).toBe(page);
  });

  it("names every top-level section, every flag and every environment variable", () => {
    for (const section of Object.keys(ConfigSchema.properties)) expect(page).toContain(`## \`${section}\``);
    for (const setting of SCALAR_SETTINGS) {
      expect(page).toContain(`\`${setting.env}\``);
      if (setting.flag) expect(page).toContain(`\`--${setting.flag}\``);
    }
    expect(page).toMatch(/\| `engine\.slots` \| `--slots` `GATEWAY_SLOTS` \| integer 1–256 \| `4` \| /);
    expect(page).toMatch(/\| `models\[\]\.thinking` \|/);
  });
});
