/**
 * The events a plugin subscribes to, as the bit mask of its ConfigureResponse: bit (event - 1) for
 * each (api/event.go `EventMask.Set`). Pure.
 */
import { Event } from './gen/api_pb.js';

/**
 * What the daemon needs: a pod's start, a container's creation (to adjust it) and the moments after
 * it (created, started), resizes before and after the runtime applies them, and a container's end.
 */
export const DEFAULT_EVENTS: readonly Event[] = [
  Event.RUN_POD_SANDBOX,
  Event.CREATE_CONTAINER,
  Event.POST_CREATE_CONTAINER,
  Event.START_CONTAINER,
  Event.UPDATE_CONTAINER,
  Event.POST_UPDATE_CONTAINER,
  Event.STOP_CONTAINER,
  Event.REMOVE_CONTAINER,
];

/** Events NRI 0.8 defines (UNKNOWN < e < LAST); the runtime refuses a mask with any other bit. */
export const isKnownEvent = (e: number): e is Event => Number.isInteger(e) && e > Event.UNKNOWN && e < Event.LAST;

export function eventMask(events: readonly Event[]): number {
  let mask = 0;
  for (const e of events) {
    if (!isKnownEvent(e)) throw new RangeError(`not an NRI event: ${e}`);
    mask |= 1 << (e - 1);
  }
  return mask;
}

export const hasEvent = (mask: number, e: Event): boolean => isKnownEvent(e) && (mask & (1 << (e - 1))) !== 0;

/** For log lines: the mask's events by name, as api/event.go's PrettyString names them. */
export function eventNames(mask: number): string[] {
  const out: string[] = [];
  for (let e = Event.UNKNOWN + 1; e < Event.LAST; e++) if (hasEvent(mask, e)) out.push(Event[e] ?? String(e));
  return out;
}
