// Hugging Face repo ids as a user types them, following huggingface_hub's
// validate_repo_id. Every rejection is a UsageError whose one-line message
// names the flag, the problem and a fix.
import {quoteInput as q, UsageError} from '../errors.js'

const MAX_HF_NAME = 96
const HF_COMPONENT_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/

/** 'org/name' or legacy 'name', following huggingface_hub's validate_repo_id. Returns the id unchanged. */
export function validateHfRepo(id: string, flag = '--hf-repo'): string {
  const bad = (reason: string, fix: string) => Object.assign(new UsageError(`Invalid ${flag} ${q(id)}: ${reason}; ${fix}.`), {reason})
  const onlyModels = 'only model repos are supported'
  const example = 'pass "org/name" as shown on huggingface.co, e.g. "openai-community/gpt2"'
  if (id === '') throw bad('the repo id is empty', example)
  const url = /^(?:https?:\/\/)?(?:www\.)?(?:huggingface\.co|hf\.co)\/(.*)$/i.exec(id)
  if (url) {
    const parts = url[1].split(/[/?#]/).filter((p) => p !== '')
    if (parts[0] === 'datasets' || parts[0] === 'spaces') {
      throw bad(`that is a URL of ${parts[0]}, not of a model`, `${onlyModels}; ${example}`)
    }
    const candidate = (parts[0] === 'models' ? parts.slice(1, 3) : parts.slice(0, 2)).join('/')
    throw bad('that is a URL, not a repo id', candidate !== '' && isValidHf(candidate) ? `try ${q(candidate)}` : example)
  }
  const parts = id.split('/')
  if (parts.length > 2) {
    if (parts[0] === 'datasets' || parts[0] === 'spaces') {
      throw bad(`${q(`${parts[0]}/`)} repos are not models`, `${onlyModels}; ${example}`)
    }
    const candidate = parts.slice(parts[0] === 'models' ? 1 : 0).join('/')
    const fix = parts[0] === 'models' && isValidHf(candidate) ? `try ${q(candidate)}` : example
    throw bad('repo ids are "name" or "org/name"', fix)
  }
  const name = parts.at(-1) ?? ''
  for (const part of parts) {
    if (part === '') throw bad('the org or the name is empty', example)
    if (/[^A-Za-z0-9_.-]/.test(part)) {
      const cleaned = id.replace(/[^A-Za-z0-9_./-]+/g, '-')
      const fix = cleaned !== id && isValidHf(cleaned) ? `try ${q(cleaned)}` : example
      throw bad('repo ids may only use letters, digits, "-", "_" and "."', fix)
    }
  }
  if (id.includes('--') || id.includes('..')) throw bad('repo ids cannot contain "--" or ".."', example)
  for (const part of parts) {
    if (!HF_COMPONENT_RE.test(part)) throw bad(`${q(part)} cannot start or end with "-" or "."`, example)
  }
  if (name.length > MAX_HF_NAME) throw bad(`the name is ${name.length} characters, over the ${MAX_HF_NAME}-character limit`, example)
  if (id.endsWith('.git')) throw bad('repo ids cannot end with ".git"', `try ${q(id.slice(0, -4))}`)
  return id
}

/** Why `id` is not a repo id validateHfRepo accepts, or undefined when it is one. */
export function hfRepoProblem(id: string): string | undefined {
  try {
    validateHfRepo(id)
    return undefined
  } catch (error) {
    return (error as {reason?: string}).reason ?? (error as Error).message
  }
}

const MAX_REVISION = 255

/**
 * Why `revision` is not a 40-hex commit sha or a ref name git would accept
 * (branch, tag, refs/pr/N), or undefined when it is one.
 */
export function hfRevisionProblem(revision: string): string | undefined {
  if (/^[0-9a-f]{40}$/.test(revision)) return undefined
  if (revision === '') return 'it is empty'
  if (revision.length > MAX_REVISION) return `it is ${revision.length} characters, over ${MAX_REVISION}`
  // git check-ref-format: no controls, space, ~ ^ : ? * [ \, "..", "@{", "//", and no part starting with "." or ending in ".lock".
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(revision)) return 'refs cannot contain spaces, control characters or any of ~ ^ : ? * [ \\'
  if (revision.includes('..') || revision.includes('@{') || revision === '@') return 'refs cannot contain ".." or "@{"'
  const parts = revision.split('/')
  if (parts.some((p) => p === '' || p.startsWith('.') || p.endsWith('.lock'))) {
    return 'ref parts cannot be empty, start with "." or end with ".lock"'
  }
  if (revision.endsWith('.')) return 'refs cannot end with "."'
  return undefined
}

function isValidHf(id: string): boolean {
  const parts = id.split('/')
  return (
    parts.length <= 2 &&
    parts.every((p) => HF_COMPONENT_RE.test(p)) &&
    !id.includes('--') &&
    !id.includes('..') &&
    (parts.at(-1)?.length ?? 0) <= MAX_HF_NAME &&
    !id.endsWith('.git')
  )
}
