/* inject.h - fault-injection commands for the control socket. */
#ifndef SWAPEMU_INJECT_H
#define SWAPEMU_INJECT_H

struct control;
void inject_register(struct control *c);

#endif
