#!/usr/bin/env bats

@test "stub" {
	skip "not yet"
}
