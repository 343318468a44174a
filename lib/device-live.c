/* device-live.c - what a running target may change: its rules and its live
 * profile (under the device's cfg_lock, which the request path only reads),
 * and the stalled requests that a release lets go. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "device-internal.h"
#include "json.h"

int device_load_profile(struct device *d, const struct profile *np, char *err,
                        size_t errlen)
{
	if (profile_same_fixed(&d->prof, np, err, errlen))
		return -1;
	const char *why = atomic_load(&d->no_capture_delay);
	if (why && !dist_is_zero(&np->capture)) {
		snprintf(err, errlen, "no capture delay over %s: %s",
		         atomic_load(&d->transport), why);
		return -1;
	}
	struct ruleset *s = ruleset_new(np->rules, np->nrules, np->seed);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct ruleset *old = d->rules;
	d->live = *np;
	d->rules = s;
	atomic_store(&d->nrules, s->n);
	pthread_rwlock_unlock(&d->cfg_lock);
	free(old);
	struct jbuf detail = {0};
	jbuf_printf(&detail, "\"profile\":");
	jbuf_str(&detail, np->name);
	jbuf_printf(&detail, ",\"seed\":%" PRIu64 ",\"rules\":%u", np->seed,
	            np->nrules);
	device_event(d, "load", OP_COUNT, 0, 0, jbuf_text(&detail));
	free(detail.p);
	return 0;
}

void device_set_transport(struct device *d, const char *name,
                          const char *no_capture_delay)
{
	/* The name first: a reader that sees the reason also sees it. */
	atomic_store(&d->transport, name);
	atomic_store(&d->no_capture_delay, no_capture_delay);
}

/* Adds or removes one rule: a copy of the current rules (with their
 * counters) replaces them. The copy is made and swapped in under one hold
 * of the write lock, so that concurrent edits never work from the same old
 * set and lose each other's change; the new set is allocated before, so
 * the data path waits only for the copy. */
static int edit_rules(struct device *d, const struct rule_spec *add,
                      const char *remove, char *err, size_t errlen)
{
	const char *name = add ? add->name : remove;
	struct ruleset *s =
	    calloc(1, sizeof *s + RULES_MAX * sizeof s->rule[0]);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct ruleset *cur = d->rules;
	unsigned n = cur->n, found = n;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(cur->rule[i].spec.name, name))
			found = i;
	int bad = add ? found < n || n == RULES_MAX : found == n;
	if (bad) {
		pthread_rwlock_unlock(&d->cfg_lock);
		free(s);
		if (add && n == RULES_MAX && found == n)
			snprintf(err, errlen, "too many rules (at most %d)",
			         RULES_MAX);
		else
			snprintf(err, errlen,
			         add ? "rule '%s' exists; remove it first"
			             : "no rule '%s'",
			         name);
		return -1;
	}
	s->seed = cur->seed;
	for (unsigned i = 0; i < n; i++) {
		if (i == found)
			continue;
		struct rule_state *t = &s->rule[s->n++];
		t->spec = cur->rule[i].spec;
		t->matches = atomic_load(&cur->rule[i].matches);
		t->fired = atomic_load(&cur->rule[i].fired);
	}
	if (add)
		s->rule[s->n++].spec = *add;
	d->rules = s;
	atomic_store(&d->nrules, s->n);
	/* Keep the live profile's rule list in step, for "profile". */
	d->live.nrules = s->n;
	for (unsigned i = 0; i < s->n; i++)
		d->live.rules[i] = s->rule[i].spec;
	pthread_rwlock_unlock(&d->cfg_lock);
	free(cur);
	struct jbuf detail = {0};
	jbuf_printf(&detail, "\"rule\":");
	jbuf_str(&detail, name);
	device_event(d, add ? "rule-added" : "rule-removed", OP_COUNT, 0, 0,
	             jbuf_text(&detail));
	free(detail.p);
	return 0;
}

int device_add_rule(struct device *d, const struct rule_spec *r, char *err,
                    size_t errlen)
{
	if (rule_spec_check(r, d->prof.size, err, errlen))
		return -1;
	return edit_rules(d, r, NULL, err, errlen);
}

int device_remove_rule(struct device *d, const char *name, char *err,
                       size_t errlen)
{
	return edit_rules(d, NULL, name, err, errlen);
}

void device_clear_rules(struct device *d)
{
	struct ruleset *s = ruleset_new(NULL, 0, d->prof.seed);
	if (!s)
		return;
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct ruleset *old = d->rules;
	s->seed = old->seed;
	d->rules = s;
	atomic_store(&d->nrules, 0);
	d->live.nrules = 0;
	pthread_rwlock_unlock(&d->cfg_lock);
	free(old);
	device_event(d, "rules-cleared", OP_COUNT, 0, 0, NULL);
}

/* Listed into memory under the lock, written out without it: a client
 * that does not read must not hold the rules' lock. */
void device_list_rules(struct device *d, FILE *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem)
		return;
	pthread_rwlock_rdlock(&d->cfg_lock);
	ruleset_list(d->rules, mem);
	pthread_rwlock_unlock(&d->cfg_lock);
	if (!fclose(mem))
		fwrite(text, 1, len, out);
	free(text);
}

void device_get_profile(struct device *d, struct profile *out)
{
	pthread_rwlock_rdlock(&d->cfg_lock);
	*out = d->live;
	pthread_rwlock_unlock(&d->cfg_lock);
}

void device_release(struct device *d)
{
	pthread_mutex_lock(&d->stall_lock);
	d->stalled = 0;
	void (*fn)(void *) = d->on_release;
	void *opaque = d->on_release_opaque;
	pthread_mutex_unlock(&d->stall_lock);
	device_event(d, "release", OP_COUNT, 0, 0, NULL);
	if (fn)
		fn(opaque);
}

void device_on_release(struct device *d, void (*fn)(void *), void *opaque)
{
	pthread_mutex_lock(&d->stall_lock);
	d->on_release = fn;
	d->on_release_opaque = opaque;
	pthread_mutex_unlock(&d->stall_lock);
}

uint64_t device_stalled(struct device *d)
{
	pthread_mutex_lock(&d->stall_lock);
	uint64_t n = d->stalled;
	pthread_mutex_unlock(&d->stall_lock);
	return n;
}

/* Counts a request a front end holds itself until the next release. */
void device_stall_note(struct device *d)
{
	pthread_mutex_lock(&d->stall_lock);
	d->stalled++;
	pthread_mutex_unlock(&d->stall_lock);
}
