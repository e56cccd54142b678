export * from "./domain/catalogue.js";
export * from "./domain/release.js";
export * from "./domain/package.js";
export * from "./domain/window.js";
export * from "./domain/unit-firmware.js";
export * from "./domain/compliance.js";
export * from "./application/ksr.js";
export * from "./service.js";
export { toRelease, toUnitFirmware } from "./api/grpc.js";
