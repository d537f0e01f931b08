import { z } from "@hono/zod-openapi";

/** The one error shape every Homeskillet endpoint returns. */
export const ErrorBody = z
  .object({
    error: z.object({
      type: z.string().openapi({ example: "invalid_request" }),
      message: z.string(),
      param: z.string().optional().openapi({ description: "The request field the error is about." }),
    }).passthrough(),
  })
  .openapi("Error");
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Covenant ids are chosen by tenants; they become part of a Durable Object name. */
export const CovenantId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '_', '.', '-'; 1 to 64 characters")
  .openapi({ example: "default" });
