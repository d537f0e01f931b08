import { z } from "@hono/zod-openapi";

export const ChatRole = z.enum(["system", "user", "assistant", "tool"]);

const TextPart = z.object({ type: z.literal("text"), text: z.string() });

export const ChatMessage = z
  .object({
    role: ChatRole,
    content: z.union([z.string(), z.array(TextPart).min(1)]),
    name: z.string().max(64).optional(),
  })
  .openapi("ChatMessage");
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A request gives its text as `messages` or as `prompt`: exactly one of them. */
export function exactlyOneOfMessagesOrPrompt(req: { messages?: unknown; prompt?: unknown }, ctx: z.RefinementCtx): void {
  if (req.messages === undefined && req.prompt === undefined) {
    ctx.addIssue({ code: "custom", path: ["messages"], message: "either `messages` or `prompt` is required" });
  }
  if (req.messages !== undefined && req.prompt !== undefined) {
    ctx.addIssue({ code: "custom", path: ["prompt"], message: "give `messages` or `prompt`, not both" });
  }
}
