import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { SCALAR_SETTINGS } from "../../src/config/settings.js";
import { loadConfig } from "../../src/config/load.js";

// No kubeconform offline: these checks parse every manifest and verify what the gateway depends on.
const DIR = resolve(PROJECT_ROOT, "config/kubernetes");
type Doc = any;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? yamlFiles(path) : name.endsWith(".yaml") ? [path] : [];
  });
}

const docs: { file: string; doc: Doc }[] = yamlFiles(DIR).flatMap((file) =>
  parseAllDocuments(readFileSync(file, "utf8")).map((d) => {
    expect(d.errors, file).toEqual([]);
    return { file, doc: d.toJS() };
  }),
);
const find = (kind: string, name: string) => docs.find(({ doc, file }) => doc.kind === kind && doc.metadata?.name === name && !file.includes("/gpu/") && !file.includes("/two-tier/"))?.doc;
const twoTier = (kind: string, name: string) => docs.find(({ doc, file }) => doc.kind === kind && doc.metadata?.name === name && file.includes("/two-tier/"))?.doc;

describe("Kubernetes manifests", () => {
  it("are well-formed objects with apiVersion, kind and name", () => {
    expect(docs.length).toBeGreaterThanOrEqual(10);
    for (const { file, doc } of docs) {
      expect(typeof doc.apiVersion, file).toBe("string");
      expect(typeof doc.kind, file).toBe("string");
      if (doc.kind !== "Kustomization") expect(typeof doc.metadata?.name, file).toBe("string");
    }
  });

  it("list only files that exist in their kustomizations", () => {
    for (const { file, doc } of docs.filter((d) => d.doc.kind === "Kustomization")) {
      const dir = resolve(file, "..");
      for (const entry of [...(doc.resources ?? []), ...(doc.patches ?? []).map((p: Doc) => p.path)]) expect(() => statSync(resolve(dir, entry)), `${file}: ${entry}`).not.toThrow();
    }
  });

  it("probe /ready for readiness and /health for liveness on the container's port", () => {
    const container = find("Deployment", "llm-gateway").spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/ready", port: "http" });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: "/health", port: "http" });
    expect(container.ports).toContainEqual({ name: "http", containerPort: 8080 });
  });

  it("give pods longer to stop than preStop plus the gateway's shutdown grace", () => {
    const pod = find("Deployment", "llm-gateway").spec.template.spec;
    const env = find("ConfigMap", "llm-gateway").data;
    const preStopSeconds = Number(pod.containers[0].lifecycle.preStop.exec.command.at(-1));
    const graceSeconds = loadConfig({ env }).shutdown.graceMs / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + graceSeconds);
  });

  it("configure the gateway only with settings it knows, and valid values", () => {
    const known = new Set(SCALAR_SETTINGS.map((s) => s.env));
    const env = find("ConfigMap", "llm-gateway").data;
    for (const name of Object.keys(env)) expect(known, name).toContain(name);
    const config = loadConfig({ env: { ...env, ...find("Secret", "llm-gateway-keys").stringData } });
    expect(config.rateLimit.redis.url).toBe("redis://llm-gateway-redis:6379");
    const gpuEnv = docs.find((d) => d.file.endsWith("gpu-patch.yaml"))!.doc.spec.template.spec.containers[0].env;
    expect(loadConfig({ env: Object.fromEntries(gpuEnv.map((e: Doc) => [e.name, e.value])) }).engine).toMatchObject({ gpu: "cuda", gpuLayers: "max" });
  });

  it("point the Service, the budget, the autoscaler and Redis at what exists", () => {
    const podLabels = find("Deployment", "llm-gateway").spec.template.metadata.labels;
    expect(podLabels).toMatchObject(find("Service", "llm-gateway").spec.selector);
    expect(podLabels).toMatchObject(find("PodDisruptionBudget", "llm-gateway").spec.selector.matchLabels);
    expect(find("HorizontalPodAutoscaler", "llm-gateway").spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "llm-gateway" });
    const redisUrl = new URL(find("ConfigMap", "llm-gateway").data.REDIS_URL);
    const redisService = find("Service", redisUrl.hostname);
    expect(redisService.spec.ports[0].port).toBe(Number(redisUrl.port));
    expect(find("Deployment", redisUrl.hostname).spec.template.metadata.labels).toMatchObject(redisService.spec.selector);
    const claim = find("Deployment", "llm-gateway").spec.template.spec.volumes.find((v: Doc) => v.persistentVolumeClaim).persistentVolumeClaim.claimName;
    expect(find("PersistentVolumeClaim", claim)).toBeDefined();
  });

  it("lay out two tiers: a front that routes by prefix over the engine pods of a headless Service, each tier autoscaled", () => {
    const front = twoTier("Deployment", "llm-gateway-front");
    const frontEnv = twoTier("ConfigMap", "llm-gateway-front").data;
    const known = new Set(SCALAR_SETTINGS.map((s) => s.env).concat(["GATEWAY_CONFIG"]));
    for (const name of Object.keys(frontEnv)) expect(known, name).toContain(name);
    // The front's config file, as the gateway loads it.
    const mount = front.spec.template.spec.containers[0].volumeMounts.find((m: Doc) => m.name === "config");
    const file = twoTier("ConfigMap", front.spec.template.spec.volumes.find((v: Doc) => v.name === "config").configMap.name).data;
    expect(frontEnv.GATEWAY_CONFIG.startsWith(mount.mountPath)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "front-"));
    writeFileSync(join(dir, "config.yaml"), file["config.yaml"]);
    const config = loadConfig({ env: { ...frontEnv, GATEWAY_CONFIG: join(dir, "config.yaml"), ...find("Secret", "llm-gateway-keys").stringData } });
    expect(config.upstream.routing).toBe("prefix-affinity");
    const upstream = new URL(config.models[0]!.upstreams![0]!.url.replace(/^dns\+/, ""));
    expect(config.models[0]!.upstreams![0]!.url).toMatch(/^dns\+http:/);
    // It resolves the headless Service of the engine pods, on their port.
    const headless = twoTier("Service", upstream.hostname);
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.ports[0].port).toBe(Number(upstream.port));
    const enginePods = find("Deployment", "llm-gateway").spec.template.metadata.labels;
    expect(enginePods).toMatchObject(headless.spec.selector);
    expect(find("Deployment", "llm-gateway").spec.template.spec.containers[0].ports[0].containerPort).toBe(Number(upstream.port));
    // The engines take their own settings (no keys or limits: the front enforces them), and only the front reaches them.
    const patch = docs.find((d) => d.file.endsWith("two-tier/engine-patch.yaml"))!.doc;
    const engineEnv = twoTier("ConfigMap", patch.spec.template.spec.containers[0].envFrom[0].configMapRef.name).data;
    const engineConfig = loadConfig({ env: engineEnv });
    expect(engineConfig.rateLimit.rpm).toBe(0);
    expect(engineConfig.auth.apiKeys).toBe("");
    const policy = twoTier("NetworkPolicy", "llm-engine");
    expect(enginePods).toMatchObject(policy.spec.podSelector.matchLabels);
    expect(front.spec.template.metadata.labels).toMatchObject(policy.spec.ingress[0].from[0].podSelector.matchLabels);
    // Each tier has its autoscaler; clients reach the front.
    expect(twoTier("HorizontalPodAutoscaler", "llm-gateway-front").spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "llm-gateway-front" });
    expect(find("HorizontalPodAutoscaler", "llm-gateway").spec.scaleTargetRef.name).toBe("llm-gateway");
    expect(front.spec.template.metadata.labels).toMatchObject(twoTier("Service", "llm-gateway-front").spec.selector);
  });
});
