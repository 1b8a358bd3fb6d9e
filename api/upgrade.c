/* api/upgrade: see upgrade.h. */
#include "api/upgrade.h"

#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "push/ws.h"

/* Whether the comma list of header name holds token (any case). */
static bool header_has(struct MHD_Connection *mc, const char *name, const char *token)
{
	const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
	size_t n = strlen(token);
	for (; v && *v; v++)
		if (strncasecmp(v, token, n) == 0)
			return true;
	return false;
}

bool pl_upgrade_handshake(struct MHD_Connection *mc, char accept[29])
{
	const char *key = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *version =
		MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	return header_has(mc, "Upgrade", "websocket") && header_has(mc, "Connection", "upgrade") &&
	       version && strcmp(version, "13") == 0 && key && ws_accept_key(key, accept);
}

enum MHD_Result pl_upgrade_answer(struct MHD_Connection *mc, const char accept[29],
				  MHD_UpgradeHandler fn, void *cls, bool *made)
{
	struct MHD_Response *resp = MHD_create_response_for_upgrade(fn, cls);
	*made = resp != NULL;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	enum MHD_Result ok = MHD_queue_response(mc, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return ok;
}

int pl_upgrade_take(MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	int fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}
