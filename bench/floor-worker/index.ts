// A pass-through worker: the cost floor that any Workers gateway pays on top of the upstream.
// It deliberately does nothing else (no parsing, no auth, no cloning) so that the overhead
// bench can attribute every extra millisecond of the gateway to the gateway itself.
//
// Under `/object/` it is the floor of a gateway shaped like Homeskillet instead: the edge reads
// the JSON body, hands it to one Durable Object by RPC, the object calls the upstream and reads
// its JSON answer, and the edge returns it as JSON. That is the least a gateway that keeps its
// state in a Durable Object per tenant can cost, so it separates what the architecture costs
// from what Homeskillet's own work on the path costs.
import { DurableObject } from "cloudflare:workers";

export interface Env {
  /** Service binding to the Hosted.AI emulator (Miniflare runs bind it; wrangler dev does not). */
  HOSTEDAI?: Fetcher;
  /** Base URL of the Hosted.AI API, used when HOSTEDAI is not bound. */
  UPSTREAM_URL?: string;
  /** Service binding to the local-node emulator, for paths under /local/ (Miniflare runs). */
  LOCAL_NODE?: Fetcher;
  /** Base URL of the local node, used for /local/ when LOCAL_NODE is not bound. */
  LOCAL_UPSTREAM_URL?: string;
  FLOOR_OBJECT: DurableObjectNamespace<FloorObject>;
}

// `/local/<path>` goes to the local node as `/<path>`: the floor for an OpenAI chat completion
// served by the local node. Everything else goes to Hosted.AI unchanged.
const LOCAL_PREFIX = "/local/";
/** What passes through: the upstream's JSON, structured-cloned across the RPC as the gateway's is. */
type Json = Record<string, string | number | boolean | null | object>;
const OBJECT_PREFIX = "/object/";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const incoming = new URL(request.url);
    if (incoming.pathname.startsWith(LOCAL_PREFIX)) {
      const path = incoming.pathname.slice(LOCAL_PREFIX.length - 1) + incoming.search;
      if (env.LOCAL_NODE) return env.LOCAL_NODE.fetch(new Request(new URL(path, incoming), request));
      if (!env.LOCAL_UPSTREAM_URL) return misconfigured("Neither LOCAL_NODE nor LOCAL_UPSTREAM_URL is set.");
      return fetch(new Request(new URL(path, env.LOCAL_UPSTREAM_URL), request), { redirect: "manual", encodeResponseBody: "manual" });
    }
    if (incoming.pathname.startsWith(OBJECT_PREFIX)) {
      const path = incoming.pathname.slice(OBJECT_PREFIX.length - 1);
      const body = await request.json<Json>();
      const stub = env.FLOOR_OBJECT.get(env.FLOOR_OBJECT.idFromName("floor"));
      const answer = await stub.forward(path, request.headers.get("authorization") ?? "", body);
      return Response.json(answer.body, { status: answer.status });
    }
    // A service binding takes the request as is: same method, URL path, headers and body stream.
    if (env.HOSTEDAI) return env.HOSTEDAI.fetch(request);

    const upstream = env.UPSTREAM_URL;
    if (!upstream) return misconfigured("Neither HOSTEDAI nor UPSTREAM_URL is set.");
    const target = new URL(incoming.pathname + incoming.search, upstream);
    // new Request(url, request) keeps method, headers and the body stream without buffering it.
    // Redirects go back to the caller rather than being followed, and an encoded upstream body
    // (wrangler dev's edge emulation asks for br/gzip) is passed on as bytes, not decoded and
    // re-encoded: a pass-through should not transcode.
    return fetch(new Request(target, request), { redirect: "manual", encodeResponseBody: "manual" });
  },
} satisfies ExportedHandler<Env>;

/** One object, as a tenant's covenant is one: it calls Hosted.AI and answers with the parsed JSON. */
export class FloorObject extends DurableObject<Env> {
  async forward(path: string, authorization: string, body: Json): Promise<{ status: number; body: Json }> {
    const init = { method: "POST", headers: { authorization, "content-type": "application/json" }, body: JSON.stringify(body) };
    const res = this.env.HOSTEDAI
      ? await this.env.HOSTEDAI.fetch(new Request(new URL(path, "http://hostedai"), init))
      : await fetch(new URL(path, this.env.UPSTREAM_URL ?? "http://127.0.0.1:8788"), init);
    return { status: res.status, body: await res.json<Json>() };
  }
}

function misconfigured(message: string): Response {
  return Response.json({ error: { type: "misconfigured", message } }, { status: 500 });
}
