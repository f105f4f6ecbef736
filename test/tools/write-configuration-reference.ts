import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configurationReference } from "../../src/config/reference.js";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";

// `npm run docs:config`: writes docs/configuration.md from the config schema.
const path = join(PROJECT_ROOT, "docs", "configuration.md");
writeFileSync(path, configurationReference());
console.log(`wrote ${path}`);
