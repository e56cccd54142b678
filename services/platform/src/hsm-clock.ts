import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type { GetClockRequest, GetClockResponse } from "@tigw/contracts/hsm/v1/hsm";
import { FollowedClock } from "./clock.js";
import { call, createClient } from "./grpc/client.js";

/**
 * The fleet's clock as hsm keeps it (TIGW_CLOCK=hsm of a cluster-mode service): see FollowedClock.
 * One place for it, so every service that follows asks the same way.
 */
export function followHsmClock(hsmAddress: string, opts: { everyMs?: number; waitMs?: number } = {}): Promise<FollowedClock> {
  const hsm = createClient(HsmServiceClient, hsmAddress);
  return FollowedClock.start(() => call<GetClockRequest, GetClockResponse>(hsm.getClock.bind(hsm), {}), opts);
}
