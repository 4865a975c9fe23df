-- The top level never ends: loading must be stopped by the budget too.
while true do end
