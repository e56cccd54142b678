import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type { GetClockRequest, GetClockResponse } from "@tigw/contracts/hsm/v1/hsm";
import { FollowedClock } from "./clock.js";
import { call, createClient } from "./grpc/client.js";

/**
 * The fleet's clock as hsm keeps it (TIGW_CLOCK=hsm of a cluster-mode service): see FollowedClock.
 * One place for it, so every service that follows asks the same way.
 */
export async function followHsmClock(
  hsmAddress: string,
  opts: { everyMs?: number; waitMs?: number; onError?: (e: unknown) => void } = {},
): Promise<FollowedClock> {
  const hsm = createClient(HsmServiceClient, hsmAddress);
  try {
    return await FollowedClock.start(() => call<GetClockRequest, GetClockResponse>(hsm.getClock.bind(hsm), {}), { ...opts, close: () => hsm.close() });
  } catch (e) {
    hsm.close();
    throw e;
  }
}
