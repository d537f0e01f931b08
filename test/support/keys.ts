// Issuing keys in tests, as a tenant would through the API.
import { expect } from "vitest";
import type { KeyCreated } from "../../src/schema";
import { call, KEYS } from "./gateway";

export async function issueKey(body: Record<string, unknown>, parent: string = KEYS.dev): Promise<KeyCreated> {
  const res = await call("/v1/keys", { method: "POST", body: JSON.stringify({ name: "test", ...body }), key: parent });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

