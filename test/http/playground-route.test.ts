import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/server/app.js";
import { validateConfig } from "../../src/config/load.js";
import { ModelRegistry } from "../../src/router/model-registry.js";

const page = async (settings: object) => {
  const app = await buildApp({ config: validateConfig(settings), models: new ModelRegistry() });
  try {
    return await app.inject({ method: "GET", url: "/" });
  } finally {
    await app.close();
  }
};

describe("the playground route", () => {
  it("serves one self-contained page whose CSP admits only its own inline script and style", async () => {
    const response = await page({});
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/html/);
    expect(response.headers["content-security-policy"]).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-/);
    expect(response.body).not.toMatch(/<script src=|<link /); // nothing fetched from elsewhere
    expect(response.body).toContain('data-auth="open"');
  });

  it("asks for a key when keys are configured, and can be turned off", async () => {
    expect((await page({ auth: { apiKeys: "a:sk-0123456789" } })).body).toContain('data-auth="required"');
    expect((await page({ playground: { enabled: false } })).statusCode).toBe(404);
  });
});
