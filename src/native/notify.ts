// sd_notify(3) through the addon (native/notify.cc): the service manager's
// socket from $NOTIFY_SOCKET, checked here, one datagram per message.
import { binding } from './binding.js';

export class NotifyError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'NotifyError';
  }
}

/** Checks a $NOTIFY_SOCKET value: an absolute path or an abstract name ('@...'), short enough for sun_path. */
export function checkNotifySocket(path: string): void {
  if (!path.startsWith('/') && !path.startsWith('@')) {
    throw new NotifyError(`NOTIFY_SOCKET must be an absolute path or an abstract name (@...): ${JSON.stringify(path)}`, 'ERR_NOTIFY_SOCKET');
  }
  // Abstract names are not NUL-terminated; paths need room for the NUL.
  const max = binding.notifySocketPathMax - (path.startsWith('@') ? 0 : 1);
  if (Buffer.byteLength(path) > max || path.includes('\0')) {
    throw new NotifyError(`NOTIFY_SOCKET is longer than ${max} bytes or holds a NUL`, 'ERR_NOTIFY_SOCKET');
  }
}

/** Sends `message` ("READY=1\nSTATUS=...") to the socket; a failure throws with the errno `.code`. */
export function notifySocketSend(path: string, message: string): void {
  checkNotifySocket(path);
  if (message.length === 0) throw new NotifyError('an sd_notify message may not be empty', 'ERR_NOTIFY_MESSAGE');
  binding.notifySocketSend(path, message);
}
