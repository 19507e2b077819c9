#!/usr/bin/env bats
# placeholder
@test "placeholder" { false; }
