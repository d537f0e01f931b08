// Worker-side: talk to the Hosted.AI emulator directly, as another tenant of the same pools would.
import { env } from "cloudflare:test";
import { TEST_KEYS } from "./workers";

async function send<T>(path: string, init: RequestInit, token?: string): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json");
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await env.HOSTEDAI.fetch(`http://hostedai.test${path}`, { ...init, headers });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function hostedaiDirect() {
  const { access_token } = await send<{ access_token: string }>("/api/v1/auth/token", { method: "POST", body: JSON.stringify({ api_key: TEST_KEYS.hostedai }) });
  return {
    token: access_token,
    allocate: (body: unknown) => send<{ allocation_id: string; expires_at: string }>("/api/v1/allocations", { method: "POST", body: JSON.stringify(body) }, access_token),
    release: (id: string) => send(`/api/v1/allocations/${id}`, { method: "DELETE" }, access_token),
    admin: (path: string, init: RequestInit = {}) => send(path, init),
  };
}
