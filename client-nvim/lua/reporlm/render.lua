-- Server results -> Markdown lines and quickfix items. Pure functions of the result (and of the
-- cited files' text), so they behave the same on every Neovim version.
local M = {}

-- JSON null decodes to vim.NIL inside arrays (and nil inside objects): both mean "not there".
local function present(value)
  return value ~= nil and value ~= vim.NIL
end
M.present = present

function M.lines(text)
  local out = {}
  if not present(text) then
    return out
  end
  for line in (tostring(text) .. "\n"):gmatch("(.-)\r?\n") do
    table.insert(out, line)
  end
  return out
end

local function append(lines, more)
  for _, line in ipairs(more) do
    table.insert(lines, line)
  end
end

local function place(cited)
  local where = cited.path or "?"
  if present(cited.start) then
    where = where .. ":" .. cited.start
    if present(cited["end"]) and cited["end"] ~= cited.start then
      where = where .. "-" .. cited["end"]
    end
  end
  return where
end

-- "3 iterations · 2 sub-calls · 1,234 in / 56 out tokens · $0.0012 · 4.2 s"
local function usage(result)
  local parts = {}
  if present(result.iterations) then
    table.insert(parts, result.iterations .. " iterations")
  end
  if present(result.sub_calls) then
    table.insert(parts, result.sub_calls .. " sub-calls")
  end
  local total = present(result.usage) and result.usage.total or nil
  if present(total) and present(total.input_tokens) then
    table.insert(parts, string.format("%d in / %d out tokens", total.input_tokens, total.output_tokens or 0))
    if present(total.cost_usd) and total.cost_usd > 0 then
      table.insert(parts, string.format("$%.4f", total.cost_usd))
    end
  end
  if present(result.seconds) then
    table.insert(parts, string.format("%.1f s", result.seconds))
  end
  return table.concat(parts, " · ")
end

local function banner(result)
  if result.partial then
    local reason = present(result.reason) and result.reason or "a budget ran out"
    return { "> **Partial answer** (" .. reason .. "): the run stopped before its final answer.", "" }
  end
  return {}
end

local function footer(result, unverified)
  local lines = { "", "---", "" }
  local cited = present(result.cited) and result.cited or {}
  local verified = 0
  for _, c in ipairs(cited) do
    if c.verified then
      verified = verified + 1
    end
  end
  table.insert(lines, string.format("Citations: %d verified, %d not verified.", verified, #cited - verified))
  for _, c in ipairs(cited) do
    if not c.verified then
      local reason = present(c.reason) and (": " .. c.reason) or ""
      table.insert(lines, "- not verified: `" .. place(c) .. "`" .. reason)
    end
  end
  append(lines, unverified or {})
  local line = usage(result)
  if line ~= "" then
    append(lines, { "", line })
  end
  if present(result.trace_file) then
    table.insert(lines, "Trace: `" .. result.trace_file .. "`")
  end
  return lines
end

-- An answer of ask or explain, under a one-line heading ("Asked: ...").
function M.answer(result, heading)
  local lines = { "_" .. heading .. "_", "" }
  append(lines, banner(result))
  append(lines, M.lines(result.answer))
  append(lines, footer(result))
  return lines
end

local function unverified_places(items, label)
  local lines = {}
  for i, item in ipairs(present(items) and items or {}) do
    for _, u in ipairs(present(item.unverified) and item.unverified or {}) do
      table.insert(lines, string.format("- not found (%s %d, %s): `%s` (%s)", label, i, item.title, u.text, u.reason))
    end
  end
  return lines
end

function M.plan(result, heading)
  local lines = { "_" .. heading .. "_", "" }
  append(lines, banner(result))
  append(lines, M.lines(result.plan))
  local missing = unverified_places(result.steps, "step")
  append(missing, unverified_places(result.risks, "risk"))
  append(lines, footer(result, missing))
  return lines
end

local function index_text(index)
  if not present(index) then
    return "unknown"
  end
  local text = tostring(index.state)
  if present(index.files) then
    text = text .. string.format(", %d files", index.files)
  end
  if present(index.to_parse) then
    text = text .. string.format(", %d of %d parsed", index.parsed or 0, index.to_parse)
  end
  if present(index.symbols) and present(index.symbols.indexed) then
    text = text .. string.format(", symbols of %d files", index.symbols.indexed)
  end
  if present(index.error) then
    text = text .. ": " .. index.error
  end
  return text
end

-- One line for the command line: "reporlm 0.1.0 · index ready, 5 files · scripted · 0 of 4 runs"
function M.status_line(status)
  local server = present(status.server) and status.server or {}
  local runs = present(status.runs) and status.runs or {}
  return string.format(
    "%s %s · index %s · %s · %d of %d runs",
    server.name or "reporlm",
    server.version or "?",
    index_text(status.index),
    present(status.provider) and status.provider or "no provider",
    runs.active or 0,
    runs.max or 0
  )
end

function M.status(status)
  local server = present(status.server) and status.server or {}
  local runs = present(status.runs) and status.runs or {}
  local function value(v)
    return present(v) and tostring(v) or "-"
  end
  local lines = {
    "# reporlm status",
    "",
    "- **server:** " .. value(server.name) .. " " .. value(server.version),
    "- **repository:** " .. value(status.repo),
    "- **index:** " .. index_text(status.index),
    "- **provider:** " .. value(status.provider),
    "- **model:** " .. value(status.model) .. " (sub-calls: " .. value(status.sub_model) .. ")",
    "- **runs:** " .. value(runs.active) .. " of " .. value(runs.max),
    "- **API key set:** " .. (status.api_key_set and "yes" or "no"),
  }
  if present(status.configuration_error) then
    table.insert(lines, "- **configuration error:** " .. status.configuration_error)
  end
  if present(status.workspace_error) then
    table.insert(lines, "- **workspace error:** " .. status.workspace_error)
  end
  local folders = present(status.folders) and status.folders or {}
  if #folders > 1 then
    append(lines, { "", "## Folders", "" })
    for _, f in ipairs(folders) do
      table.insert(lines, "- " .. value(f.name) .. " (" .. value(f.repo) .. "): index " .. index_text(f.index))
    end
  end
  return lines
end

-- The text of line `lnum` of a file: the buffer's (unsaved edits included) when it is loaded.
local function line_at(path, lnum)
  local bufnr = vim.fn.bufnr(path)
  if bufnr ~= -1 and vim.api.nvim_buf_is_loaded(bufnr) then
    return vim.api.nvim_buf_get_lines(bufnr, lnum - 1, lnum, false)[1] or ""
  end
  local file = io.open(path, "r")
  if not file then
    return ""
  end
  local n = 0
  for line in file:lines() do
    n = n + 1
    if n == lnum then
      file:close()
      return line
    end
  end
  file:close()
  return ""
end

-- A quickfix item for an LSP Location; `text` defaults to the first line of the range.
function M.item(location, text)
  local range = location.range
  local filename = vim.uri_to_fname(location.uri)
  local lnum = range.start.line + 1
  return {
    filename = filename,
    lnum = lnum,
    end_lnum = range["end"].line + 1,
    col = 1,
    text = text or vim.trim(line_at(filename, lnum)),
  }
end

-- The citations of an answer, in the order the answer gives them.
function M.citation_items(result)
  local items = {}
  for _, location in ipairs(present(result.citations) and result.citations or {}) do
    table.insert(items, M.item(location))
  end
  return items
end

-- Every place a plan's steps and then its risks touch, each labelled with its step or risk.
function M.plan_items(result)
  local items = {}
  for _, part in ipairs({ { "step", result.steps }, { "risk", result.risks } }) do
    local label, list = part[1], part[2]
    for i, entry in ipairs(present(list) and list or {}) do
      for _, location in ipairs(present(entry.locations) and entry.locations or {}) do
        local item = M.item(location)
        item.text = string.format("%s %d: %s | %s", label, i, entry.title, item.text)
        table.insert(items, item)
      end
    end
  end
  if #items == 0 then
    return M.citation_items(result)
  end
  return items
end

return M
