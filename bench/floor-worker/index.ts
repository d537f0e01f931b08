// A pass-through worker: the cost floor that any Workers gateway pays on top of the upstream.
// It deliberately does nothing else (no parsing, no auth, no cloning) so that the overhead
// bench can attribute every extra millisecond of the gateway to the gateway itself.

export interface Env {
  /** Service binding to the Hosted.AI emulator (Miniflare runs bind it; wrangler dev does not). */
  HOSTEDAI?: Fetcher;
  /** Base URL of the Hosted.AI API, used when HOSTEDAI is not bound. */
  UPSTREAM_URL?: string;
  /** Service binding to the local-node emulator, for paths under /local/ (Miniflare runs). */
  LOCAL_NODE?: Fetcher;
  /** Base URL of the local node, used for /local/ when LOCAL_NODE is not bound. */
  LOCAL_UPSTREAM_URL?: string;
}

// `/local/<path>` goes to the local node as `/<path>`: the floor for an OpenAI chat completion
// served by the local node. Everything else goes to Hosted.AI unchanged.
const LOCAL_PREFIX = "/local/";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const incoming = new URL(request.url);
    if (incoming.pathname.startsWith(LOCAL_PREFIX)) {
      const path = incoming.pathname.slice(LOCAL_PREFIX.length - 1) + incoming.search;
      if (env.LOCAL_NODE) return env.LOCAL_NODE.fetch(new Request(new URL(path, incoming), request));
      if (!env.LOCAL_UPSTREAM_URL) {
        return Response.json({ error: { type: "misconfigured", message: "Neither LOCAL_NODE nor LOCAL_UPSTREAM_URL is set." } }, { status: 500 });
      }
      return fetch(new Request(new URL(path, env.LOCAL_UPSTREAM_URL), request), { redirect: "manual", encodeResponseBody: "manual" });
    }
    // A service binding takes the request as is: same method, URL path, headers and body stream.
    if (env.HOSTEDAI) return env.HOSTEDAI.fetch(request);

    const upstream = env.UPSTREAM_URL;
    if (!upstream) {
      return Response.json(
        { error: { type: "misconfigured", message: "Neither HOSTEDAI nor UPSTREAM_URL is set." } },
        { status: 500 },
      );
    }
    const target = new URL(incoming.pathname + incoming.search, upstream);
    // new Request(url, request) keeps method, headers and the body stream without buffering it.
    // Redirects go back to the caller rather than being followed, and an encoded upstream body
    // (wrangler dev's edge emulation asks for br/gzip) is passed on as bytes, not decoded and
    // re-encoded: a pass-through should not transcode.
    return fetch(new Request(target, request), { redirect: "manual", encodeResponseBody: "manual" });
  },
} satisfies ExportedHandler<Env>;
