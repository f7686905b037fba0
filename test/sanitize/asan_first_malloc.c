/*
 * asan_first_malloc.c — preloaded after libasan into the uninstrumented
 * postgres (test/sanitize/run): makes sure AddressSanitizer initializes
 * before any library constructor holds a lock of libc's.
 *
 * ASan initializes on the first malloc.  In postgres that first malloc
 * comes from libgpg-error's constructor (pulled in by libsystemd) inside
 * bindtextdomain(), which holds glibc's gettext lock as a writer; ASan's
 * initialization then calls dlerror(), whose gettext takes the same lock
 * as a reader, fails, and releases it anyway: the lock is left broken and
 * the postmaster hangs in its own bindtextdomain() (a known interaction of
 * a preloaded sanitizer runtime with such constructors).  This wrapper
 * runs one malloc before the real bindtextdomain, so ASan's initialization
 * happens outside the lock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char	   *bindtextdomain(const char *domainname, const char *dirname);

char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*real) (const char *, const char *);
	/* volatile: the compiler may drop a malloc whose result goes unused */
	void	   *volatile first = malloc(1);

	free(first);
	if (real == NULL)
		real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	return real(domainname, dirname);
}
