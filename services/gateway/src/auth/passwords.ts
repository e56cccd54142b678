// Passwords are hashed the same way for operators (here) and practices (vpn): one implementation in the platform.
export { checkPassword, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "@tigw/platform";
