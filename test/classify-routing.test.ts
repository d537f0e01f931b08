// Routing from a classification to a model: the pure rules, defaults and overrides.
import { describe, expect, it } from "vitest";
import { DEFAULT_MODELS, DEFAULT_ROUTES, routeModel } from "../src/policy";
import type { Classification, ModelRoute, TaskLabel } from "../src/schema";
import { ModelRoute as ModelRouteSchema } from "../src/schema";

const ALL = DEFAULT_MODELS.map((m) => m.id);

function classification(label: TaskLabel, complexity: number, extra: Partial<Classification> = {}): Classification {
  const probabilities = { coding: 0, math: 0, reasoning: 0, extraction: 0, writing: 0, roleplay: 0, knowledge: 0 };
  probabilities[label] = 1;
  return {
    label,
    probabilities,
    complexity,
    prompt_tokens: 50,
    output_tokens: 200,
    latency_class: "interactive",
    classifier: "cls-00000001",
    ...extra,
  };
}

describe("routeModel with the default routes", () => {
  it.each([
    ["knowledge", 0.1, "gemma-2b-it"],
    ["knowledge", 0.5, "mistral-7b"],
    ["knowledge", 0.8, "qwen-14b"],
    ["extraction", 0.3, "gemma-2b-it"],
    ["extraction", 0.6, "mistral-7b"],
    ["writing", 0.4, "mistral-7b"],
    ["roleplay", 0.3, "mistral-7b"],
    ["coding", 0.3, "qwen-14b"],
    ["coding", 0.7, "qwen-32b"],
    ["math", 0.9, "qwen-70b"],
    ["reasoning", 0.65, "qwen-32b"],
  ] as Array<[TaskLabel, number, string]>)("%s at complexity %s goes to %s", (label, complexity, model) => {
    const decision = routeModel(classification(label, complexity), DEFAULT_ROUTES, ALL);
    expect(decision.model).toBe(model);
    expect(decision.reason).toContain(label);
    expect(decision.route).toBeGreaterThanOrEqual(0);
  });

  it("every default route is a valid covenant route naming a known model", () => {
    for (const route of DEFAULT_ROUTES) {
      expect(ModelRouteSchema.safeParse(route).success).toBe(true);
      expect(ALL).toContain(route.model);
    }
  });

  it("long extraction is not sent to the small-context model", () => {
    const longDoc = classification("extraction", 0.3, { prompt_tokens: 6_000 });
    expect(routeModel(longDoc, DEFAULT_ROUTES, ALL).model).toBe("mistral-7b");
  });
});

describe("routeModel overrides and limits", () => {
  it("an explicit model in the request wins over every route", () => {
    const d = routeModel(classification("knowledge", 0.1), DEFAULT_ROUTES, ALL, "qwen-70b");
    expect(d).toEqual({ model: "qwen-70b", reason: "model named in the request" });
  });

  it("a covenant's own routes are tried in order", () => {
    const routes: ModelRoute[] = [
      { labels: ["coding"], max_complexity: 0.5, model: "mistral-7b" },
      { labels: ["coding"], model: "qwen-70b" },
    ];
    expect(routeModel(classification("coding", 0.4), routes, ALL)).toMatchObject({ model: "mistral-7b", route: 0 });
    expect(routeModel(classification("coding", 0.6), routes, ALL)).toMatchObject({ model: "qwen-70b", route: 1 });
  });

  it("routes can also match on latency class and prompt size", () => {
    const routes: ModelRoute[] = [{ latency_classes: ["batch"], model: "qwen-70b" }, { max_prompt_tokens: 100, model: "gemma-2b-it" }];
    expect(routeModel(classification("writing", 0.5, { latency_class: "batch" }), routes, ALL).model).toBe("qwen-70b");
    expect(routeModel(classification("writing", 0.5), routes, ALL).model).toBe("gemma-2b-it");
  });

  it("no matching route: the covenant's default model", () => {
    const d = routeModel(classification("math", 0.5), [{ labels: ["coding"], model: "qwen-32b" }], ALL, undefined, { defaultModel: "qwen-14b" });
    expect(d.model).toBe("qwen-14b");
    expect(d.route).toBeUndefined();
    expect(d.reason).toContain("no route matched");
  });

  it("a label the classifier is not confident of takes the covenant's default, not a labelled route", () => {
    const unsure = classification("coding", 0.7, { confident: false });
    const d = routeModel(unsure, DEFAULT_ROUTES, ALL, undefined, { defaultModel: "mistral-7b" });
    expect(d.model).toBe("mistral-7b");
    expect(d.route).toBeUndefined();
    expect(d.reason).toContain("not confident");
    // The same reading, confident, takes its labelled route.
    expect(routeModel({ ...unsure, confident: true }, DEFAULT_ROUTES, ALL, undefined, { defaultModel: "mistral-7b" }).model).toBe("qwen-32b");
    // Routes that name no label still apply.
    const routes: ModelRoute[] = [{ labels: ["coding"], model: "qwen-70b" }, { latency_classes: ["interactive"], model: "gemma-2b-it" }];
    expect(routeModel(unsure, routes, ALL, undefined, { defaultModel: "mistral-7b" })).toMatchObject({ model: "gemma-2b-it", route: 1 });
  });

  it("a route to a model the covenant does not allow falls to the nearest allowed one, upwards first", () => {
    const hardCode = classification("coding", 0.7); // default route: qwen-32b
    expect(routeModel(hardCode, DEFAULT_ROUTES, ["mistral-7b", "qwen-70b"]).model).toBe("qwen-70b");
    const d = routeModel(hardCode, DEFAULT_ROUTES, ["gemma-2b-it", "mistral-7b"]);
    expect(d.model).toBe("mistral-7b");
    expect(d.reason).toContain("not allowed");
  });

  it("skips models whose context cannot hold the prompt and the answer", () => {
    const big = classification("knowledge", 0.1, { prompt_tokens: 9_000, output_tokens: 500 });
    const d = routeModel(big, DEFAULT_ROUTES, ["gemma-2b-it", "mistral-7b"]);
    expect(d.model).toBe("mistral-7b");
    expect(d.reason).toContain("context");
  });

  it("is pure: the same inputs give the same decision", () => {
    const c = classification("reasoning", 0.62);
    expect(routeModel(c, DEFAULT_ROUTES, ALL)).toEqual(routeModel(c, DEFAULT_ROUTES, ALL));
  });
});
