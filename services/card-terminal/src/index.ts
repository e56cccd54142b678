export * from "./domain/terminal.js";
export * from "./domain/infomodell.js";
