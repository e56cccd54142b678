export * from "./domain/terminal.js";
export * from "./domain/infomodell.js";
export * from "./domain/card-pin.js";
export * from "./application/card-terminals.js";
export * from "./application/ports.js";
export * from "./service.js";
