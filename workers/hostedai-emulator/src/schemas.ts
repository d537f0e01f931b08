// Request bodies as the contract defines them. Unknown fields are ignored so newer clients keep
// working; missing or mistyped ones are rejected with the dotted path of the first bad field.
import { z } from "zod";
import { MAX_LATENCY_SCALE, MAX_TIME_SCALE, MIN_TIME_SCALE } from "./config";
import { invalidRequest, type Outcome, fail, ok } from "./errors";

/** Thirty days: long enough for any lease, short enough that expiry timestamps stay sane. */
export const MAX_DURATION_SECONDS = 30 * 24 * 3600;
export const MAX_TOKENS_LIMIT = 8192;
export const MAX_METADATA_ENTRIES = 64;

export const TokenRequestSchema = z.object({
  api_key: z.string().min(1).max(512),
});

export const AllocationRequestSchema = z
  .object({
    pool_id: z.string().min(1).max(100),
    requirements: z.object({
      min_tflops: z.number().positive().max(1e6),
      min_vram_mb: z.number().int().positive().max(1e9),
      max_vram_mb: z.number().int().positive().max(1e9).optional(),
    }),
    duration_seconds: z.number().int().positive().max(MAX_DURATION_SECONDS),
    preemptible: z.boolean(),
    metadata: z
      .record(z.string().max(128), z.string().max(1024))
      .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, {
        message: `At most ${MAX_METADATA_ENTRIES} metadata entries are allowed`,
      })
      .optional(),
  })
  .superRefine((body, ctx) => {
    const { min_vram_mb, max_vram_mb } = body.requirements;
    if (max_vram_mb !== undefined && max_vram_mb < min_vram_mb) {
      ctx.addIssue({
        code: "custom",
        path: ["requirements", "max_vram_mb"],
        message: "max_vram_mb must be at least min_vram_mb",
      });
    }
  });
export type AllocationRequest = z.infer<typeof AllocationRequestSchema>;

export const InferenceRequestSchema = z.object({
  model: z.string().min(1).max(200),
  prompt: z.string(),
  max_tokens: z.number().int().positive().max(MAX_TOKENS_LIMIT).default(128),
  temperature: z.number().min(0).max(2).default(1),
  /** Server-sent events instead of one JSON body (see the README for the event format). */
  stream: z.boolean().default(false),
});
export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;

export const AllocationStatusSchema = z.enum(["active", "released", "expired", "preempted"]);
export type AllocationStatus = z.infer<typeof AllocationStatusSchema>;

export const ConfigUpdateSchema = z.object({
  latency_scale: z.number().min(0).max(MAX_LATENCY_SCALE).optional(),
  time_scale: z.number().min(MIN_TIME_SCALE).max(MAX_TIME_SCALE).optional(),
});
export type ConfigUpdate = z.infer<typeof ConfigUpdateSchema>;

export const PreemptRequestSchema = z.object({
  pool_id: z.string().min(1).max(100),
  count: z.number().int().min(1).max(100_000).default(1),
});
export type PreemptRequest = z.infer<typeof PreemptRequestSchema>;

/** Parses `input`; a failure names the first bad field, or `rootParam` when the whole value is wrong. */
export function validate<T>(schema: z.ZodType<T>, input: unknown, rootParam = "body"): Outcome<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0];
  // A strict schema's unknown key is named itself, so a misspelt field is pointed at directly.
  const path = issue?.code === "unrecognized_keys" ? [...issue.path, issue.keys[0] ?? ""] : (issue?.path ?? []);
  const param = path.length > 0 ? path.map(String).join(".") : rootParam;
  const detail = issue?.message ?? "invalid value";
  return fail(invalidRequest(param, `Invalid ${param}: ${detail}.`));
}
