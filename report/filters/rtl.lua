--[[
rtl.lua: keep language-tagged divs (and the headings they open) in typst output.

Pandoc's typst writer turns `::: {lang=he dir=rtl}` into
`#block[#set text(lang: "he"); == Heading`, which typst reads as a line of
text, so the heading that opens the div is lost.  For typst output this filter
takes `lang` and `dir` off such a div and wraps its content in raw typst:

    #text(lang: "he", dir: rtl)[
    ...the div's blocks, headings included...
    ]

Other formats are left alone (HTML keeps lang/dir as attributes).  Works with
plain pandoc (`--lua-filter`) and with Quarto (`filters:`).
]]

local function is_typst()
  return FORMAT ~= nil and FORMAT:match("typst") ~= nil
end

-- "he-IL" -> "he", "IL"; anything unexpected -> nil
local function split_lang(tag)
  local lang, region = tag:match("^(%a%a%a?)[-_](%a%a)$")
  if lang then
    return lang:lower(), region:upper()
  end
  lang = tag:match("^(%a%a%a?)$")
  if lang then
    return lang:lower(), nil
  end
  return nil, nil
end

function Div(el)
  if not is_typst() then
    return nil
  end
  local tag = el.attributes["lang"]
  local dir = el.attributes["dir"]
  if tag == nil and dir == nil then
    return nil
  end

  local args = {}
  if tag ~= nil then
    local lang, region = split_lang(tag)
    if lang ~= nil then
      table.insert(args, string.format('lang: "%s"', lang))
      if region ~= nil then
        table.insert(args, string.format('region: "%s"', region))
      end
    end
  end
  if dir == "rtl" or dir == "ltr" then
    table.insert(args, "dir: " .. dir)
  end
  el.attributes["lang"] = nil
  el.attributes["dir"] = nil
  if #args == 0 then
    return el
  end

  local blocks = { pandoc.RawBlock("typst", "#text(" .. table.concat(args, ", ") .. ")[") }
  local has_other_attrs = el.identifier ~= "" or #el.classes > 0 or #el.attributes > 0
  if has_other_attrs then
    table.insert(blocks, el)
  else
    for _, block in ipairs(el.content) do
      table.insert(blocks, block)
    end
  end
  table.insert(blocks, pandoc.RawBlock("typst", "]"))
  return blocks
end
