import type { Dispatcher } from 'undici';

/**
 * A request option (`sendBy`, on the `performance.now()` clock): the request is written to the socket before this
 * instant or not at all. Checked in undici's `onRequestStart`, which runs right before the request is written (after
 * any wait for a free or new connection), so a process that was frozen or starved between deciding to send and the
 * write does not send late (a wave paused meanwhile must see no new call). Hand-written because undici has no such
 * option; it is one hook.
 */
export interface SendByOption {
  sendBy?: number;
}

/** The reason a request was not written: nothing left the machine. */
export class SendWindowMissedError extends Error {
  constructor(readonly lateByMs: number) {
    super(`send window missed by ${lateByMs.toFixed(1)} ms: the request was not sent`);
    this.name = 'SendWindowMissedError';
  }
}

type Handler = Dispatcher.DispatchHandler;

export const sendByInterceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler: Handler) => {
  const sendBy = (opts as Dispatcher.DispatchOptions & SendByOption).sendBy;
  if (sendBy === undefined) return dispatch(opts, handler);
  const guarded: Handler = {
    onRequestStart(controller, context) {
      const late = performance.now() - sendBy;
      if (late > 0) {
        controller.abort(new SendWindowMissedError(late));
        return;
      }
      handler.onRequestStart?.(controller, context);
    },
    onRequestUpgrade: (...args) => handler.onRequestUpgrade?.(...args),
    onResponseStart: (...args) => handler.onResponseStart?.(...args),
    onResponseData: (...args) => handler.onResponseData?.(...args),
    onResponseEnd: (...args) => handler.onResponseEnd?.(...args),
    onResponseError: (...args) => handler.onResponseError?.(...args),
  };
  return dispatch(opts, guarded);
};
