// sockets.h: the native side of cloudflare:sockets connect()
// (engine/js/sockets.js). A socket is one of its request's outbound
// connections (a FetchCall holding a SocketStream, api/fetch.h): it counts
// toward the request's six and its subrequests, waits for a free one as a
// fetch() does, and goes when the request (and its ctx.waitUntil work) ends.
#pragma once

#include <v8.h>

namespace dispatch {

// native.socketConnect(host, port, tls) -> id; socketOpened(id) -> promise
// of the remote address ("192.0.2.1:5432"); socketRead(id) -> Uint8Array,
// null at the end, or a promise of a frozen [either]; socketWrite(id, bytes)
// -> undefined, or a promise to wait on; socketEnd(id) (the writable side
// closed); socketStartTls(id, sni); socketClose(id).
void install_socket_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

}  // namespace dispatch
