/* test_arena.c: alignment, growth past the inline block, the hard cap. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"

Test(arena, aligned_and_growing)
{
	static char buf[256];
	struct arena a;

	arena_init(&a, buf, sizeof(buf), 1 << 20);
	for (int i = 0; i < 1000; i++) {
		char *p = arena_alloc(&a, (size_t)(i % 37) + 1);

		cr_assert_not_null(p);
		cr_expect_eq((uintptr_t)p % 16, 0);
		memset(p, 0xab, (size_t)(i % 37) + 1);
	}
	cr_expect_not_null(a.more);
	arena_deinit(&a);
	cr_expect_null(a.more);
}

Test(arena, cap_is_hard)
{
	struct arena a;

	arena_init(&a, NULL, 0, 1000);
	cr_expect_not_null(arena_alloc(&a, 500));
	cr_expect_null(arena_alloc(&a, 600));
	cr_expect_null(arena_alloc(&a, (size_t)-1));
	cr_expect_not_null(arena_alloc(&a, 400));
	arena_deinit(&a);
}

Test(arena, strndup_terminates)
{
	struct arena a;
	char *s;

	arena_init(&a, NULL, 0, 4096);
	s = arena_strndup(&a, "hello world", 5);
	cr_expect_str_eq(s, "hello");
	arena_deinit(&a);
}
