import type { Env } from "../env";
import { HostedAiClient } from "../providers/hostedai";

/** The Hosted.AI connector, configured as the covenant objects configure theirs. */
export function hostedAi(env: Env): HostedAiClient {
  return new HostedAiClient({ baseUrl: env.HOSTEDAI_BASE_URL, apiKey: env.HOSTEDAI_API_KEY ?? "", fetcher: env.HOSTEDAI, assumptions: env.HOSTEDAI_ASSUMPTIONS });
}
