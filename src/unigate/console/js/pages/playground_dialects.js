// The model APIs the playground speaks, each as an application would call it through unigate:
// the path, the request body built from the playground's request, and how to read the answer
// (whole, or event by event when streamed).
//
// A playground request: {endpoint, system, messages: [{role, content}], stream, temperature,
// maxTokens}; temperature and maxTokens are numbers or null (not sent).
// Reading an answer fills an accumulator {text, usage: {input, output}, model}.

import { ApiError } from '../api.js';

const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024; // Anthropic's API requires max_tokens

function streamError(err, fallbackCode) {
  const e = err || {};
  return new ApiError(0, e.code || e.type || fallbackCode, e.message || 'the stream reported an error');
}

function setUsage(acc, input, output) {
  if (input !== undefined && input !== null) acc.usage.input = input;
  if (output !== undefined && output !== null) acc.usage.output = output;
}

const openaiChat = {
  id: 'openai-chat',
  label: 'OpenAI Chat Completions',
  path: '/ai-gateway/openai/v1/chat/completions',
  body(req) {
    const messages = req.system ? [{ role: 'system', content: req.system }, ...req.messages] : req.messages;
    const body = { model: req.endpoint, messages };
    if (req.temperature !== null) body.temperature = req.temperature;
    if (req.maxTokens !== null) body.max_tokens = req.maxTokens;
    if (req.stream) {
      body.stream = true;
      body.stream_options = { include_usage: true }; // the last chunk then carries the usage
    }
    return body;
  },
  readAnswer(json, acc) {
    const choice = (json.choices || [])[0];
    acc.text = (choice && choice.message && choice.message.content) || '';
    acc.model = json.model || acc.model;
    if (json.usage) setUsage(acc, json.usage.prompt_tokens, json.usage.completion_tokens);
  },
  // -> {text} to append, {error}, {done}, or {} for an event without text
  readEvent({ data }, acc) {
    if (data === '[DONE]') return { done: true };
    const chunk = JSON.parse(data);
    if (chunk.error) return { error: streamError(chunk.error, 'stream_error') };
    if (chunk.model) acc.model = chunk.model;
    if (chunk.usage) setUsage(acc, chunk.usage.prompt_tokens, chunk.usage.completion_tokens);
    const choice = (chunk.choices || [])[0];
    const text = choice && choice.delta && choice.delta.content;
    return text ? { text } : {};
  },
};

const anthropicMessages = {
  id: 'anthropic',
  label: 'Anthropic Messages',
  path: '/ai-gateway/anthropic/v1/messages',
  body(req) {
    const body = { model: req.endpoint, max_tokens: req.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS };
    if (req.system) body.system = req.system;
    body.messages = req.messages;
    if (req.temperature !== null) body.temperature = req.temperature;
    if (req.stream) body.stream = true;
    return body;
  },
  readAnswer(json, acc) {
    acc.text = (json.content || []).filter((b) => b.type === 'text').map((b) => b.text).join('');
    acc.model = json.model || acc.model;
    if (json.usage) setUsage(acc, json.usage.input_tokens, json.usage.output_tokens);
  },
  readEvent({ event, data }, acc) {
    const ev = JSON.parse(data);
    const type = ev.type || event;
    if (type === 'error') return { error: streamError(ev.error, 'error') };
    if (type === 'message_start' && ev.message) {
      acc.model = ev.message.model || acc.model;
      if (ev.message.usage) setUsage(acc, ev.message.usage.input_tokens, ev.message.usage.output_tokens);
    }
    if (type === 'message_delta' && ev.usage) setUsage(acc, ev.usage.input_tokens, ev.usage.output_tokens);
    if (type === 'message_stop') return { done: true };
    if (type === 'content_block_delta' && ev.delta && ev.delta.type === 'text_delta') return { text: ev.delta.text };
    return {};
  },
};

const openaiResponses = {
  id: 'openai-responses',
  label: 'OpenAI Responses',
  path: '/ai-gateway/openai/v1/responses',
  body(req) {
    const body = { model: req.endpoint };
    if (req.system) body.instructions = req.system;
    body.input = req.messages;
    if (req.temperature !== null) body.temperature = req.temperature;
    if (req.maxTokens !== null) body.max_output_tokens = req.maxTokens;
    if (req.stream) body.stream = true;
    return body;
  },
  readAnswer(json, acc) {
    const parts = [];
    for (const item of json.output || []) {
      if (item.type !== 'message') continue;
      for (const c of item.content || []) if (c.type === 'output_text') parts.push(c.text);
    }
    acc.text = parts.join('');
    acc.model = json.model || acc.model;
    if (json.usage) setUsage(acc, json.usage.input_tokens, json.usage.output_tokens);
  },
  readEvent({ event, data }, acc) {
    const ev = JSON.parse(data);
    const type = ev.type || event;
    if (type === 'error') return { error: streamError(ev.error || ev, 'error') };
    if (type === 'response.failed') return { error: streamError(ev.response && ev.response.error, 'response_failed') };
    if (type === 'response.output_text.delta') return { text: ev.delta };
    if (type === 'response.completed' && ev.response) {
      acc.model = ev.response.model || acc.model;
      if (ev.response.usage) setUsage(acc, ev.response.usage.input_tokens, ev.response.usage.output_tokens);
      return { done: true };
    }
    return {};
  },
};

export const DIALECTS = [openaiChat, anthropicMessages, openaiResponses];

export const dialectById = (id) => DIALECTS.find((d) => d.id === id) || openaiChat;
