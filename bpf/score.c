#include "config.h"

#include <string.h>
#include "bpf/score.h"

void rw_score_init(struct rw_score *s)
{
	memset(s, 0, sizeof(*s));
}

static bool within(uint64_t at, uint64_t now, unsigned window)
{
	return at != 0 && now + 1 - at < window;
}

int rw_score_add(const struct rw_score_conf *c, struct rw_score *s, const struct rw_sample *in,
		 struct rw_signals *sig)
{
	unsigned window = c->window < 1 ? 1 : c->window > RW_SCORE_MAX_WINDOW ? RW_SCORE_MAX_WINDOW : c->window;
	unsigned char hot;
	double v;

	memset(sig, 0, sizeof(*sig));
	if (in->dt_s > 0)
		sig->cpu = in->cpu_s / in->dt_s;
	sig->limit = in->limit;
	if (in->periods > 0)
		sig->throttled = (double)(in->throttled > in->periods ? in->periods : in->throttled) / (double)in->periods;
	/* Rates per CPU-second: a process that ran 1 ms makes no rate worth reading. */
	if (in->cpu_s > 1e-3) {
		sig->syscalls_per_cpu_s = (double)in->syscalls / in->cpu_s;
		sig->switches_per_cpu_s = (double)in->switches / in->cpu_s;
		sig->execs_per_cpu_s = (double)in->execs / in->cpu_s;
	}
	sig->busy = (in->limit > 0 && sig->cpu >= c->cpu_high * in->limit) ||
		    (in->periods > 0 && sig->throttled >= c->throttled_high);
	sig->quiet = in->cpu_s > 1e-3 && sig->syscalls_per_cpu_s <= c->syscalls_max &&
		     sig->switches_per_cpu_s <= c->switches_max && sig->execs_per_cpu_s <= c->execs_max;
	sig->hot = sig->busy && sig->quiet;

	/* The ring of the last `window` samples' hot bits. */
	hot = sig->hot ? 1 : 0;
	if (s->n < window) {
		s->hot[(s->head + s->n) % RW_SCORE_MAX_WINDOW] = hot;
		s->n++;
	} else {
		s->nhot -= s->hot[s->head];
		s->hot[s->head] = hot;
		s->head = (s->head + 1) % window;
	}
	s->nhot += hot;
	if (in->pool)
		s->pool_at = s->samples + 1;
	if (in->bad_exec)
		s->exec_at = s->samples + 1;
	s->samples++;

	v = (double)s->nhot / window;
	if (within(s->pool_at, s->samples, window + 1))
		v += c->pool_bonus;
	if (within(s->exec_at, s->samples, window + 1))
		v += c->exec_bonus;
	s->value = v > 1 ? 1 : v;
	if (!s->flagged && s->value >= c->flag_score - 1e-9) {
		s->flagged = true;
		return 1;
	}
	if (s->flagged && s->value <= c->clear_score + 1e-9) {
		s->flagged = false;
		return -1;
	}
	return 0;
}
