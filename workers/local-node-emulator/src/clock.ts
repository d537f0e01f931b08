// Waiting for the device's schedule: the helpers both emulators share.
export { sleep, sleepUntil, sleepUnlessAborted } from "../../shared/time";
