// zod schemas shared by the HTTP API, the OpenAPI document and (later) the MCP tools.
export * from "./common";
export * from "./messages";
export * from "./strike";
export * from "./models";
export * from "./covenant";
export * from "./classification";
export * from "./openai";
export * from "./fusion";
export * from "./dashboard";
export * from "./tenancy";
