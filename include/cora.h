/* cora: asyncio for C. The umbrella header: include this one.
 *
 * One header per layer lives under cora/; see docs/ for the guide.
 */
#ifndef CORA_H
#define CORA_H

#include "cora/core.h"
#include "cora/debug.h"
#include "cora/fs.h"
#include "cora/http.h"
#include "cora/ws.h"
#include "cora/io.h"
#include "cora/net.h"
#include "cora/proc.h"
#include "cora/stream.h"
#include "cora/sync.h"
#include "cora/tls.h"

#endif
