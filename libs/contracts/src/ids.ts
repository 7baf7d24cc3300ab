/** Agent and task ids as the API hands them out: a kind prefix and 22 characters of base64url (128 bits). */
export const ID_PATTERN = /^(agt|tsk)_[A-Za-z0-9_-]{22}$/;
export const AGENT_ID_PATTERN = /^agt_[A-Za-z0-9_-]{22}$/;
export const TASK_ID_PATTERN = /^tsk_[A-Za-z0-9_-]{22}$/;
