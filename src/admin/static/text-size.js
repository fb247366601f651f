// @ts-check
// Text size, for projectors: A− and A+ scale the page, remembered across visits.
import { byId } from './dom.js'

export function setUpTextSize () {
  let scale = Number(localStorage.getItem('lyncproxy.scale') || '1')
  const apply = () => {
    document.documentElement.style.setProperty('--scale', String(scale))
    localStorage.setItem('lyncproxy.scale', String(scale))
  }
  byId('larger').addEventListener('click', () => { scale = Math.min(2, scale + 0.1); apply() })
  byId('smaller').addEventListener('click', () => { scale = Math.max(0.7, scale - 0.1); apply() })
  apply()
}
