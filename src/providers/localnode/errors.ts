import { UpstreamError } from "../errors";

export const PROVIDER = "local";

/** The node cannot serve the model at all (not installed): falling back elsewhere is right, retrying is not. */
export function isModelMissing(err: unknown): boolean {
  return err instanceof UpstreamError && err.provider === PROVIDER && err.status === 404;
}
