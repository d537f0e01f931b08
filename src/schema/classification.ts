import { z } from "@hono/zod-openapi";
import { ChatMessage, exactlyOneOfMessagesOrPrompt } from "./messages";

/** The task labels, in the order the classifier's weights use. */
export const TASK_LABELS = ["coding", "math", "reasoning", "extraction", "writing", "roleplay", "knowledge"] as const;
export const TaskLabel = z.enum(TASK_LABELS);
export type TaskLabel = z.infer<typeof TaskLabel>;

export const LATENCY_CLASSES = ["interactive", "standard", "batch"] as const;
export const LatencyClass = z.enum(LATENCY_CLASSES).openapi({
  description: "interactive: short and light, answer now; standard; batch: long input or output, throughput over latency.",
});
export type LatencyClass = z.infer<typeof LatencyClass>;

const Probability = z.number().min(0).max(1);

export const Classification = z
  .object({
    label: TaskLabel,
    probabilities: z
      .object({
        coding: Probability,
        math: Probability,
        reasoning: Probability,
        extraction: Probability,
        writing: Probability,
        roleplay: Probability,
        knowledge: Probability,
      })
      .openapi({ description: "One probability per label; they sum to 1." }),
    confident: z.boolean().optional().openapi({
      description:
        "Whether the top label's probability reaches the classifier's confidence threshold (0.5, calibrated). When false, routes that name labels do not match and the request takes the covenant's default route.",
    }),
    complexity: z.number().min(0).max(1).openapi({ description: "How demanding the request looks, 0 (trivial) to 1." }),
    prompt_tokens: z.number().int().nonnegative().openapi({ description: "Estimated tokens in the prompt." }),
    output_tokens: z.number().int().nonnegative().openapi({ description: "Estimated tokens the answer will need." }),
    latency_class: LatencyClass,
    classifier: z.string().openapi({ description: "Which trained weights produced this.", example: "cls-5e1f09a2" }),
    uses_tools: z.boolean().optional().openapi({ description: "The request is an agent turn: it offers tools or asks for structured output." }),
  })
  .openapi("Classification");
export type Classification = z.infer<typeof Classification>;

export const ClassifyRequest = z
  .object({
    messages: z.array(ChatMessage).min(1).max(256).optional(),
    prompt: z.string().min(1).optional(),
  })
  .strict()
  .superRefine(exactlyOneOfMessagesOrPrompt)
  .openapi("ClassifyRequest");
export type ClassifyRequest = z.infer<typeof ClassifyRequest>;

/**
 * One routing rule of a covenant: requests whose classification matches every condition given
 * go to `model`. Rules are tried in order; the first whose model the covenant allows wins.
 */
export const ModelRoute = z
  .object({
    labels: z.array(TaskLabel).min(1).max(TASK_LABELS.length).optional(),
    min_complexity: z.number().min(0).max(1).optional(),
    max_complexity: z.number().min(0).max(1).optional(),
    max_prompt_tokens: z.number().int().positive().optional(),
    latency_classes: z.array(LatencyClass).min(1).max(LATENCY_CLASSES.length).optional(),
    uses_tools: z.boolean().optional().openapi({
      description: "true: only agent turns (requests with tools or structured output) match; false: only the others. Routes agents to models that handle tools well.",
    }),
    model: z.string().min(1).max(128),
  })
  .strict()
  .refine((r) => r.min_complexity === undefined || r.max_complexity === undefined || r.min_complexity <= r.max_complexity, {
    path: ["max_complexity"],
    message: "max_complexity must be at least min_complexity",
  })
  .openapi("ModelRoute");
export type ModelRoute = z.infer<typeof ModelRoute>;
