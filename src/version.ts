/** The release of Homeskillet this code is (OpenAPI, MCP server info, /healthz). */
export const VERSION = "0.1.0";
