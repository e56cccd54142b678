export * from "./app.js";
export * from "./http/openapi.js";
export * from "./auth/tokens.js";
export * from "./auth/passwords.js";
export * from "./auth/totp.js";
export * from "./auth/login-limiter.js";
