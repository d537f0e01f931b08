// A pass-through worker: the cost floor that any Workers gateway pays on top of the upstream.
// It deliberately does nothing else (no parsing, no auth, no cloning) so that the overhead
// bench can attribute every extra millisecond of the gateway to the gateway itself.

export interface Env {
  /** Service binding to the Hosted.AI emulator (Miniflare runs bind it; wrangler dev does not). */
  HOSTEDAI?: Fetcher;
  /** Base URL of the Hosted.AI API, used when HOSTEDAI is not bound. */
  UPSTREAM_URL?: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    // A service binding takes the request as is: same method, URL path, headers and body stream.
    if (env.HOSTEDAI) return env.HOSTEDAI.fetch(request);

    const upstream = env.UPSTREAM_URL;
    if (!upstream) {
      return Response.json(
        { error: { type: "misconfigured", message: "Neither HOSTEDAI nor UPSTREAM_URL is set." } },
        { status: 500 },
      );
    }
    const incoming = new URL(request.url);
    const target = new URL(incoming.pathname + incoming.search, upstream);
    // new Request(url, request) keeps method, headers and the body stream without buffering it.
    // Redirects go back to the caller rather than being followed, and an encoded upstream body
    // (wrangler dev's edge emulation asks for br/gzip) is passed on as bytes, not decoded and
    // re-encoded: a pass-through should not transcode.
    return fetch(new Request(target, request), { redirect: "manual", encodeResponseBody: "manual" });
  },
} satisfies ExportedHandler<Env>;
