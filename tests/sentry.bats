#!/usr/bin/env bats
# placeholder: written by the tests helper
@test "placeholder" { false; }
