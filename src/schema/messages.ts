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
