export { LocalNodeClient, type LocalNodeConfig } from "./client";
export { isModelMissing, PROVIDER as LOCAL_NODE } from "./errors";
export * from "./mapping";
