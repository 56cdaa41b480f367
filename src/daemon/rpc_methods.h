/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's JSON-RPC methods (docs/man/vhost-user-scsi-ctl.8 lists them
 * with their parameters).  Their opaque pointer is the struct mgmt.
 */
#ifndef VUS_DAEMON_RPC_METHODS_H
#define VUS_DAEMON_RPC_METHODS_H

#include <stddef.h>

#include "daemon/mgmt.h"
#include "rpc/rpc_server.h"

const struct rpc_method *rpc_methods_table(size_t *n);

#endif
