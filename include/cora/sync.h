/* cora/sync.h: synchronisation between tasks of one loop.
 *
 * The types here are fixed-size stand-ins that users may put on the stack or inside
 * their own structs (no malloc); their insides are private. Call them only from the
 * loop that uses them; to reach a loop from another thread, use
 * cora_call_soon_threadsafe with a callback that calls these.
 */
#ifndef CORA_SYNC_H
#define CORA_SYNC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An event (asyncio.Event): a flag that tasks can wait to see set. */
typedef struct cora_event {
    void *private_[3];
} cora_event;

/* Static initialiser is not possible for the waiter list; call cora_event_init. */
void cora_event_init(cora_event *ev);

/* Sets the flag and wakes every waiting task. Never suspends. */
void cora_event_set(cora_event *ev);

/* Clears the flag; waiters stay waiting. */
void cora_event_clear(cora_event *ev);

/* 1 if set, else 0. */
int cora_event_is_set(const cora_event *ev);

/* Suspends the calling task until the flag is set (returns at once if it is).
 * Returns 0, -ECANCELED, or -EPERM outside a task. A task cancelled while being woken
 * still returns 0 (the wake-up is not lost); the cancellation comes at its next
 * suspension point. */
int cora_event_wait(cora_event *ev);

#ifdef __cplusplus
}
#endif
#endif
