// Reads a request body as JSON without trusting its size or encoding.
import { ApiError, badRequest } from "./errors";

/** Far above any honest chat request, far below what would strain a Worker's memory. */
export const MAX_BODY_BYTES = 1024 * 1024;

export async function readJsonBody(request: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const bytes = await readLimited(request, limit);
  if (bytes.length === 0) throw badRequest("The request body is empty; expected a JSON object.", null, "invalid_json");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw badRequest("The request body is not valid UTF-8.", null, "invalid_json");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw badRequest(`The request body is not valid JSON: ${detail}`, null, "invalid_json");
  }
}

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      // Stop reading at the limit rather than buffering whatever the client keeps sending.
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `The request body exceeds ${limit} bytes.`, "invalid_request_error", null, "request_too_large");
}
