// The self-hosted gateway's front worker (see scripts/selfhost-config.mjs). On Cloudflare, Workers
// Static Assets answers a request for a built file before the gateway runs; here this does: a GET
// or HEAD for a file of the manifest (or a folder with an index.html) is read from the assets
// directory, with the content type and the `_headers` rules; everything else goes to the gateway
// unchanged. Like Cloudflare's default html handling, /dashboard and /dashboard/index.html
// redirect to /dashboard/.

/** @param {{ files: Record<string, string>, headers: Array<{ pattern: string, headers: [string, string][] }> }} manifest */
function resolve(pathname, manifest) {
  const files = manifest.files;
  if (pathname.endsWith("/index.html") && files[pathname]) return { redirect: pathname.slice(0, -"index.html".length) };
  if (files[pathname]) return { file: pathname };
  if (pathname.endsWith("/") && files[`${pathname}index.html`]) return { file: `${pathname}index.html` };
  if (!pathname.endsWith("/") && files[`${pathname}/index.html`]) return { redirect: `${pathname}/` };
  return undefined;
}

function matches(pattern, pathname) {
  if (!pattern.includes("*")) return pattern === pathname;
  const [head, ...rest] = pattern.split("*");
  if (!pathname.startsWith(head)) return false;
  // Each `*` matches any run of characters; the parts between must follow in order.
  let at = head.length;
  for (let i = 0; i < rest.length; i++) {
    const part = rest[i];
    if (i === rest.length - 1) return part === "" || (pathname.endsWith(part) && pathname.length - part.length >= at);
    const found = pathname.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return true;
}

export default {
  /** @param {Request} request */
  async fetch(request, env) {
    if (request.method !== "GET" && request.method !== "HEAD") return env.GATEWAY.fetch(request);
    const url = new URL(request.url);
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return env.GATEWAY.fetch(request);
    }
    const hit = resolve(pathname, env.MANIFEST);
    if (!hit) return env.GATEWAY.fetch(request);
    if (hit.redirect) return new Response(null, { status: 307, headers: { location: hit.redirect + url.search } });

    const file = await env.STATIC.fetch(new Request(`http://static${encodeURI(hit.file)}`, { method: request.method }));
    if (!file.ok) return env.GATEWAY.fetch(request);
    const headers = new Headers({
      "content-type": env.MANIFEST.files[hit.file],
      "cache-control": "public, max-age=0, must-revalidate",
    });
    const length = file.headers.get("content-length");
    if (length) headers.set("content-length", length);
    for (const rule of env.MANIFEST.headers) {
      if (matches(rule.pattern, pathname)) for (const [name, value] of rule.headers) headers.set(name, value);
    }
    return new Response(request.method === "HEAD" ? null : file.body, { status: 200, headers });
  },
};
