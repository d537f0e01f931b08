// The Kubernetes manifests (deploy/kubernetes/), validated offline against the Kubernetes API's
// schemas as the npm package kubernetes-models ships them (JSON-schema validators generated from
// the Kubernetes OpenAPI document: types, formats, enums, required fields), and strictly: each
// object is type-checked against the same package's TypeScript types, whose excess-property checks
// catch a misspelt or misplaced field the schemas let through (what kubeconform's -strict does).
// No cluster, no schema download. Then what this deployment must be: one replica with a volume,
// probes on /healthz, resources, secrets from a Secret, and a scrape annotation.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const root = join(import.meta.dirname, "..", "..");
const dir = join(root, "deploy", "kubernetes");
const require = createRequire(import.meta.url);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
const objects: Array<{ file: string; object: K8sObject }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return { file, object: doc.toJS() as K8sObject };
  }),
);

/** kubernetes-models' module for an apiVersion and kind: `apps/v1` + `StatefulSet` → kubernetes-models/apps/v1/StatefulSet. */
function modelPath(o: K8sObject): string {
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

/** TypeScript's diagnostics for one in-memory file placed at `virtual` (so node_modules resolve). */
function typecheck(virtual: string, source: string): readonly ts.Diagnostic[] {
  const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === virtual ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtual || fileExists(name);
  return ts.getPreEmitDiagnostics(ts.createProgram([virtual], options, host));
}

function find<T = any>(kind: string, name: string): T {
  const hit = objects.find(({ object }) => object.kind === kind && object.metadata.name === name);
  if (!hit) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return hit.object as T;
}

describe("deploy/kubernetes", () => {
  it("holds the objects the deployment needs", () => {
    expect(objects.map(({ object }) => `${object.kind}/${object.metadata.name}`).sort()).toEqual(
      ["ConfigMap/homeskillet-config", "Namespace/homeskillet", "Secret/homeskillet-secrets", "Service/homeskillet", "Service/homeskillet-headless", "StatefulSet/homeskillet"].sort(),
    );
  });

  it.each(objects.map(({ file, object }) => [`${file}: ${object.kind}/${object.metadata.name}`, object] as const))(
    "%s is valid against the Kubernetes schema",
    (_name, object) => {
      const mod = require(modelPath(object)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = mod[object.kind];
      expect(Model, modelPath(object)).toBeTypeOf("function");
      expect(() => new Model!(object).validate()).not.toThrow();
    },
  );

  it("has no field the Kubernetes types do not know (strict)", () => {
    // One TypeScript file typing every object as its interface; fresh object literals get
    // excess-property checks at every depth.
    const virtual = join(root, "test", "node", "__kubernetes_manifests__.ts");
    const source = objects
      .map(({ object }, i) => `import type { I${object.kind} as T${i} } from ${JSON.stringify(modelPath(object))};\nexport const o${i}: T${i} = ${JSON.stringify(object, null, 2)};`)
      .join("\n");
    const diagnostics = typecheck(virtual, source).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const line = where ? source.split("\n")[where.line]?.trim() : "";
      return `${ts.flattenDiagnosticMessageText(d.messageText, "\n")}${line ? ` (at ${line})` : ""}`;
    });
    expect(diagnostics).toEqual([]);
  });

  it("the strict check does catch a misspelt field", () => {
    // The same check on a broken copy, so a check that silently passes everything cannot hide.
    const source = `import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";\nexport const s: IStatefulSet = { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "x" }, spec: { replica: 1, selector: {}, serviceName: "x", template: {} } };`;
    const virtual = join(root, "test", "node", "__kubernetes_typo__.ts");
    const messages = typecheck(virtual, source).map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "));
    expect(messages.join("\n")).toMatch(/'replica' does not exist/);
  });

  it("kustomization.yaml applies every manifest but the example Secret", () => {
    const k = parseAllDocuments(readFileSync(join(dir, "kustomization.yaml"), "utf8"))[0]!.toJS() as { resources: string[]; namespace: string };
    expect([...k.resources].sort()).toEqual(files.filter((f) => f !== "secret.example.yaml").sort());
    expect(k.namespace).toBe(find("Namespace", "homeskillet").metadata.name);
  });

  describe("the StatefulSet", () => {
    const set = find("StatefulSet", "homeskillet");
    const pod = set.spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e]));

    it("runs exactly one replica, with its data on a persistent volume", () => {
      // Each Durable Object must exist once: a second replica would be a second copy of each.
      expect(set.spec.replicas).toBe(1);
      expect(pod.containers).toHaveLength(1);
      const claim = set.spec.volumeClaimTemplates.find((c: K8sObject) => c.metadata.name === "data");
      expect(claim.spec.accessModes).toEqual(["ReadWriteOnce"]);
      const mount = container.volumeMounts.find((m: { name: string }) => m.name === "data");
      expect(mount.mountPath).toBe(env.HOMESKILLET_DATA_DIR.value);
      expect(set.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    });

    it("probes /healthz on the serving port, and has requests and limits", () => {
      const port = container.ports.find((p: { name: string }) => p.name === "http");
      expect(String(port.containerPort)).toBe(env.PORT.value);
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        expect(container[probe].httpGet, probe).toEqual({ path: "/healthz", port: "http" });
      }
      expect(Object.keys(container.resources.requests).sort()).toEqual(["cpu", "memory"]);
      expect(container.resources.limits.memory).toBeDefined();
    });

    it("takes its secrets from a Secret, the required ones by key", () => {
      for (const name of ["HOSTEDAI_BASE_URL", "HOSTEDAI_API_KEY", "HOMESKILLET_OPERATOR_KEY"]) {
        expect(env[name].valueFrom.secretKeyRef, name).toEqual({ name: "homeskillet-secrets", key: name });
        expect(env[name].valueFrom.secretKeyRef.optional, name).toBeUndefined();
      }
      expect(container.envFrom).toContainEqual({ secretRef: { name: "homeskillet-secrets" } });
      // Nothing secret written into the manifest itself.
      expect(Object.values(env).every((e: any) => !("value" in e) || !/KEY|SECRET|TOKEN/.test(e.name))).toBe(true);
      const secret = find("Secret", "homeskillet-secrets");
      expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(["HOSTEDAI_BASE_URL", "HOSTEDAI_API_KEY", "HOMESKILLET_OPERATOR_KEY"]));
      expect(find("ConfigMap", "homeskillet-config").data.HOMESKILLET_ENV).not.toBe("development");
    });

    it("runs unprivileged, and announces its metrics for scraping", () => {
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      expect(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain("/tmp");
      expect(set.spec.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": env.PORT.value, "prometheus.io/path": "/metrics" });
    });

    it("is reached through Services that select its pod", () => {
      const labels = set.spec.template.metadata.labels;
      for (const name of ["homeskillet", "homeskillet-headless"]) {
        const svc = find("Service", name);
        for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k], `${name} selects ${k}`).toBe(v);
        expect(svc.spec.ports[0].targetPort).toBe("http");
      }
      expect(set.spec.serviceName).toBe("homeskillet-headless");
      expect(find("Service", "homeskillet-headless").spec.clusterIP).toBe("None");
    });
  });
});
